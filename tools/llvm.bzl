"""Compiler flags for targets that include LLVM 19 headers (Debian's llvm-19-dev)."""

# LLVM's headers trip -Wunused-parameter and friends; they are not ours to fix.
LLVM_COPTS = ["-Wno-unused-parameter"]
