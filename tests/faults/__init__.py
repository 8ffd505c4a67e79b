"""Fault-injection tests: a proxy between the real ccxt client and the emulators, an
invariant checker comparing the journal with what each emulator's engine holds, and a
matrix of faults x order-lifecycle steps."""
