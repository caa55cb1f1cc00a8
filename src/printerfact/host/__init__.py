"""Host set-up: where things live (paths), the content-keyed build cache (+ its collection),
build progress, the Debian release's package names (distro), the toolchain check and
provisioning.

Everything here imports only the standard library and nothing else of printerfact, so
provisioning (`python3 -m printerfact.host.provision`) runs before the venv exists.
"""
