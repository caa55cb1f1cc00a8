# What nixos-25.05's and nixos-26.05's test drivers have alike, declared once; each channel's
# `test_driver` stubs re-export it under nixpkgs' module names (see printerfact/stubs/__init__.py).
