/*
 * split_driver.c — runs cmd_pdf_split() as a program and prints its
 * resource use (wall and CPU time, peak RSS) on stderr, for
 * tests/bench/bench-split while `tayori pdf split` is not wired in cmd/.
 * A benchmark tool, not part of the product.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include "cmd/cli.h"

int main(int argc, char **argv)
{
	struct timespec a, b;
	struct rusage ru;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = cmd_pdf_split(argc - 1, argv + 1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "split_driver: wall=%.2fs user=%.2fs sys=%.2fs maxrss=%ldKB\n",
		(double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
		(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
	return rc;
}
