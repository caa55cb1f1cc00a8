"""Getting inside a test's VMs (issue 20): a REPL kept at the failure (`failure`), a root
shell on a running node from another terminal (`channels` in the driver, `attach` the
client), and QEMU's gdb stub with the module's symbols (`gdb`)."""
