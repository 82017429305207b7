"""Wire-level tests of rxxenon's embedded server, through raw gRPC stubs."""
