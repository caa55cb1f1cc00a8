// SPDX-License-Identifier: GPL-2.0
// Reads per second from a character device, run inside the test VM (built static on the host).
//   readbench PATH N pread   N x pread(fd, buf, 64, 0) on one open file
//   readbench PATH N open    N x (open, read 64 bytes, close): includes the per-open fact pick
//   readbench PATH N openclose  N x (open, close): the open and release paths alone
// Prints the rate as a plain number; exits 1 on any failed or empty read.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char buf[64];
	long i, n;
	double start;
	int fd = -1, read_too;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PATH N pread|open|openclose\n", argv[0]);
		return 2;
	}
	n = atol(argv[2]);
	read_too = strcmp(argv[3], "openclose") != 0;
	if (strcmp(argv[3], "pread") == 0 && (fd = open(argv[1], O_RDONLY)) < 0) {
		perror(argv[1]);
		return 1;
	}
	start = now();
	for (i = 0; i < n; i++) {
		if (fd >= 0) {
			if (pread(fd, buf, sizeof(buf), 0) <= 0)
				return 1;
		} else {
			int f = open(argv[1], O_RDONLY);

			if (f < 0 || (read_too && read(f, buf, sizeof(buf)) <= 0))
				return 1;
			close(f);
		}
	}
	printf("%.0f\n", n / (now() - start));
	return 0;
}
