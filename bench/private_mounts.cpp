// private_mounts PROGRAM ARGS...: runs PROGRAM in a private mount namespace from which the
// cgroup2 mount at /sys/fs/cgroup/unified is gone. Stock crun refuses a hybrid cgroup host; the
// benchmark runs every contender under this same wrapper, kept small so that it weighs little.
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    if (unshare(CLONE_NEWNS) < 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
        fprintf(stderr, "private_mounts: %s\n", strerror(errno));
        return 125;
    }
    if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
        fprintf(stderr, "private_mounts: umount /sys/fs/cgroup/unified: %s\n", strerror(errno));
        return 125;
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "private_mounts: exec %s: %s\n", argv[1], strerror(errno));
    return 127;
}
