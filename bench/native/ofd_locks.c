/*
 * ofd_locks: the Linux kernel's own byte-range locks under the FILE_LOCK benchmark's workload.
 * bench/filelock.bench.ts compiles this with the host cc into build/bench/ and runs it next to
 * the TypeScript model, so both sides see the same lock layout and the same query offsets.
 *
 * Open file description locks (fcntl F_OFD_SETLK / F_OFD_GETLK, Linux >= 3.15) on a file in a
 * tmpfs: owner A (one open file description) holds N write locks [2iL, 2iL + L); owner B (a
 * second open of the same file) then measures
 *   pair   F_OFD_SETLK F_WRLCK on a free gap followed by F_OFD_SETLK F_UNLCK of it,
 *   read   F_OFD_GETLK F_RDLCK at pseudo-random offsets (half of them hit a lock),
 *   write  F_OFD_GETLK F_WRLCK at the same offsets.
 *
 * Setting up N locks one F_SETLK at a time costs O(N) each in the kernel (every request walks
 * the inode's whole lock list), so A takes one lock over everything and punches the gaps from
 * the top down: each F_UNLCK splits the first lock of A's list, O(1) each.
 *
 * Offsets come from the same xorshift32 generator, with the same seed, as the TypeScript side.
 *
 * usage: ofd_locks <dir> <N> <L> <pair-ops> <check-ops> <seed>
 * prints one JSON object on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint32_t rng_state;

static uint32_t xorshift32(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int set_lock(int fd, short type, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

/* 1 when a lock of `type` on [start, start + len) would conflict, 0 when not, -1 on error. */
static int test_lock(int fd, short type, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
        return -1;
    return fl.l_type != F_UNLCK;
}

static void die(const char *what)
{
    fprintf(stderr, "ofd_locks: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: ofd_locks <dir> <N> <L> <pair-ops> <check-ops> <seed>\n");
        return 2;
    }
    const char *dir = argv[1];
    long n = atol(argv[2]);
    long l = atol(argv[3]);
    long pair_ops = atol(argv[4]);
    long check_ops = atol(argv[5]);
    rng_state = (uint32_t)strtoul(argv[6], NULL, 10);
    if (n < 1 || l < 2 || pair_ops < 1 || check_ops < 1 || rng_state == 0) {
        fprintf(stderr, "ofd_locks: bad arguments\n");
        return 2;
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/ofd_locks.%ld", dir, (long)getpid());
    int fd_a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd_a < 0)
        die("open A");
    int fd_b = open(path, O_RDWR);
    if (fd_b < 0)
        die("open B");
    unlink(path);

    /* N locks [2iL, 2iL + L): one lock over [0, (2N - 1)L), then the N - 1 gaps, top down. */
    double t0 = now_ns();
    if (set_lock(fd_a, F_WRLCK, 0, (off_t)(2 * n - 1) * l) != 0)
        die("lock A");
    for (long i = n - 2; i >= 0; i--) {
        if (set_lock(fd_a, F_UNLCK, (off_t)(2 * i + 1) * l, l) != 0)
            die("punch gap");
    }
    double setup_ms = (now_ns() - t0) / 1e6;

    /* Sanity: the first lock conflicts, its gap does not, the last lock conflicts. */
    if (test_lock(fd_b, F_RDLCK, 0, 1) != 1 || test_lock(fd_b, F_RDLCK, l, 1) != 0 ||
        test_lock(fd_b, F_RDLCK, (off_t)(2 * n - 2) * l, 1) != 1) {
        fprintf(stderr, "ofd_locks: lock layout is not what the benchmark expects\n");
        return 1;
    }

    uint64_t span = (uint64_t)(2 * n) * (uint64_t)l;
    off_t *offsets = malloc(sizeof(off_t) * (size_t)(check_ops > pair_ops ? check_ops : pair_ops));
    if (offsets == NULL)
        die("malloc");

    /* pair: B locks and unlocks a free half gap. */
    for (long k = 0; k < pair_ops; k++)
        offsets[k] = (off_t)((2 * (uint64_t)(xorshift32() % (uint32_t)n) + 1) * (uint64_t)l);
    t0 = now_ns();
    for (long k = 0; k < pair_ops; k++) {
        if (set_lock(fd_b, F_WRLCK, offsets[k], l / 2) != 0)
            die("pair lock");
        if (set_lock(fd_b, F_UNLCK, offsets[k], l / 2) != 0)
            die("pair unlock");
    }
    double pair_ns = (now_ns() - t0) / (double)pair_ops;

    /* checks: GETLK at offsets spread over the whole locked span. */
    for (long k = 0; k < check_ops; k++)
        offsets[k] = (off_t)(xorshift32() % (uint32_t)span);
    long hits = 0;
    t0 = now_ns();
    for (long k = 0; k < check_ops; k++) {
        int c = test_lock(fd_b, F_RDLCK, offsets[k], l / 2);
        if (c < 0)
            die("getlk read");
        hits += c;
    }
    double read_ns = (now_ns() - t0) / (double)check_ops;
    t0 = now_ns();
    for (long k = 0; k < check_ops; k++) {
        int c = test_lock(fd_b, F_WRLCK, offsets[k], l / 2);
        if (c < 0)
            die("getlk write");
    }
    double write_ns = (now_ns() - t0) / (double)check_ops;

    printf("{\"n\":%ld,\"setupMs\":%.3f,\"pairNs\":%.1f,\"readCheckNs\":%.1f,"
           "\"writeCheckNs\":%.1f,\"pairOps\":%ld,\"checkOps\":%ld,\"readHits\":%ld}\n",
           n, setup_ms, pair_ns, read_ns, write_ns, pair_ops, check_ops, hits);
    free(offsets);
    close(fd_b);
    close(fd_a);
    return 0;
}
