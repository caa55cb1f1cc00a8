"""The kernel and the module: flavours (fragments, boot arguments), the kernel build, its
config check, the module build, and `artifacts`, which builds (or takes from the cache)
everything a VM test boots, the guest image included (`python -m printerfact.kernel`).

Every product is cached by the content hash of its inputs (printerfact.host.cache).
Standard library only, like printerfact.host.
"""
