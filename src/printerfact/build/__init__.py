"""The portable build: provisioning, toolchain check, kernel, module and VM image, cached by content.

Everything here imports only the standard library, so provisioning can run before the venv exists.
"""
