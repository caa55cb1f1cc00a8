# A fact server on one node, read over TCP by another node that knows it only by host name.
# Runs unchanged under nixpkgs' test driver (test.nix) and the portable runner.
start_all()

server.wait_for_unit("factd")
server.wait_for_open_port(8000)
client.wait_for_unit("multi-user.target")

known = set(server.succeed("cat /etc/printerfact/facts.txt").splitlines())
t.assertGreaterEqual(len(known), 64)

# busybox nc on both paths: NixOS gets a `busybox` binary from the node's packages. Its stdin is
# /dev/null: nc would otherwise read the command's stdin, which under nixpkgs' driver is the
# backdoor console, never at end of file (each fetch would hang until nc's -w timeout).
FETCH = "busybox nc -w 5 server 8000 < /dev/null"

with subtest("the client resolves the server by name and fetches one known fact"):
    client.succeed("grep -w server /etc/hosts")
    fact = client.succeed(FETCH)
    t.assertTrue(fact.endswith("\n"), f"no trailing newline: {fact!r}")
    t.assertIn(fact.rstrip("\n"), known)

with subtest("20 fetched facts are all known"):
    lines = client.succeed(f"for i in $(seq 20); do {FETCH}; done").splitlines()
    t.assertEqual(len(lines), 20)
    unknown = [line for line in lines if line not in known]
    t.assertEqual(unknown, [], "facts not in facts.txt")

with subtest("a blocked server makes the fetch fail, unblocking restores it"):
    server.block()
    status, output = client.execute(f"{FETCH} 2>&1")
    t.assertNotEqual(status, 0, "fetch succeeded while the server's link was down")
    t.assertEqual([line for line in output.splitlines() if line in known], [])
    server.unblock()
    client.wait_until_succeeds(f"{FETCH} | grep -q .", timeout=60)
