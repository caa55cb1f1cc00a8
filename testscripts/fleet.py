# Four nodes: alpha and bravo load printerfact at boot, charlie and delta by modprobe here.
# Every node reads the device, serves it on port 8000, and fetches facts from every other node
# by host name over the VLAN.  Each node's kernel picks its own facts: identical sequences
# would mean shared random state (a cloned VM, an unseeded generator).
# Runs unchanged under nixpkgs' test driver (test.nix) and the portable runner.
start_all()

fleet = [alpha, bravo, charlie, delta]
at_boot = [alpha, bravo]
by_modprobe = [charlie, delta]

for node in fleet:
    node.wait_for_unit("multi-user.target")

known = set(alpha.succeed("cat /etc/printerfact/facts.txt").splitlines())
t.assertGreaterEqual(len(known), 64)

with subtest("the module is loaded at boot on two nodes, by modprobe on the other two"):
    for node in at_boot:
        node.succeed("grep -qw '^printerfact' /proc/modules")
    for node in by_modprobe:
        node.fail("grep -qw '^printerfact' /proc/modules")
        node.succeed("modprobe printerfact")
    for node in fleet:
        node.wait_for_file("/dev/printerfact")

with subtest("cat /dev/printerfact gives one known fact on every node"):
    for node in fleet:
        fact = node.succeed("cat /dev/printerfact")
        t.assertTrue(fact.endswith("\n"), f"{node.name}: no trailing newline: {fact!r}")
        t.assertIn(fact.rstrip("\n"), known, f"{node.name}: unknown fact")

# busybox nc reads /dev/null, not the command's stdin (the backdoor console under nixpkgs).
with subtest("every node fetches a known fact from every other node by name"):
    for node in fleet:
        node.wait_for_open_port(8000)
    for node in fleet:
        for other in fleet:
            if other is node:
                continue
            fact = node.succeed(f"busybox nc -w 5 {other.name} 8000 < /dev/null")
            t.assertIn(fact.rstrip("\n"), known, f"{node.name} <- {other.name}")

with subtest("each node's sequence of picks is its own"):
    picks = {
        node.name: node.succeed("for i in $(seq 40); do cat /dev/printerfact; done")
        for node in fleet
    }
    for name, sequence in picks.items():
        t.assertEqual(len(sequence.splitlines()), 40, name)
        t.assertLessEqual(set(sequence.splitlines()), known, name)
    t.assertEqual(len(set(picks.values())), len(fleet), "two nodes picked the same sequence")
