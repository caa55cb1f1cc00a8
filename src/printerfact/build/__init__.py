"""The portable build: provisioning, toolchain check, kernel, module and VM image.

Every product is cached by the content hash of its inputs (see cache.py).

Everything here imports only the standard library, so provisioning can run before the venv exists.
"""
