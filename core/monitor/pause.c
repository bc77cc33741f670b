/* kiln-pause: a pod's sandbox, the process that holds the pod's shared namespaces.
 *
 * kilnd starts it directly (no monitor, no runtime: it runs no image, so there is nothing to
 * build a container from) with
 *
 *   kiln-pause --report-fd N --root DIR [--net] [--pid] [--hostname NAME] [--domainname NAME]
 *              [--cgroup-v2-fd N] [--cgroup-v1-fd N]... [--uid-map MAP --gid-map MAP]
 *
 * With --uid-map and --gid-map ("inside outside count" lines, as /proc/PID/uid_map takes them)
 * the holder is cloned into a new user namespace first, which then owns every other namespace
 * of the pod; this process writes the maps before the holder goes on, and the holder's
 * "nobody" is the pod's.
 *
 * with fd N open for its report (a pipe kilnd reads). It clones the holder into new ipc, uts and mount namespaces (and
 * network and pid ones on request), placed at birth into the cgroup whose v2 directory is open
 * at --cgroup-v2-fd; the holder joins each v1 hierarchy by writing "0" to the `tasks` files open
 * at --cgroup-v1-fd, sets the host and domain names, brings the loopback interface up, and pivots
 * into an empty read-only tmpfs mounted on DIR (so that a container sharing the pid namespace
 * finds nothing of the host behind /proc/1/root). It then gives up every privilege: the uid and
 * gids of nobody, no capability in any set, no_new_privs, not dumpable. When the holder is set,
 * this process writes the holder's pid (as the caller's pid namespace numbers it) to that fd and
 * closes it; on a failure it writes "error: <what failed>" there and exits 1, and the holder is
 * gone.
 *
 * Then it stays, as the holder's parent: it reaps the holder and exits when the holder ends, and
 * on SIGTERM or SIGINT it kills the holder first (with it the pod's pid namespace, if it has
 * one). The holder dies with it, too (PR_SET_PDEATHSIG). kilnd watches this process as it
 * watches a container's monitor. The holder does nothing: it reaps orphans when it is the pod's
 * pid 1. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>

static int report_fd = -1; /* --report-fd */
#define MAX_V1 32
#define NOBODY 65534

static void stop(int sig) {
    (void)sig;
    _exit(0);
}

static volatile pid_t holder_pid;

static void kill_holder(int sig) {
    (void)sig;
    kill(holder_pid, SIGKILL);
}

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

/* Writes "error: <message>[: <errno text>]" to fd and exits 1. */
static void fail(int fd, int err, const char* fmt, ...) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "error: ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    if (err && n < (int)sizeof buf) n += snprintf(buf + n, sizeof buf - n, ": %s", strerror(err));
    if (n > (int)sizeof buf - 1) n = sizeof buf - 1;
    ssize_t ignored = write(fd, buf, n);
    (void)ignored;
    _exit(1);
}

struct options {
    const char* root;
    const char* hostname;
    const char* domainname;
    int net, pid;
    const char* uid_map;
    const char* gid_map;
    int v2_fd;
    int v1_fds[MAX_V1];
    int n_v1;
};

static int parse_fd(const char* s) {
    char* end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v >= 0 && v < 1 << 20) ? (int)v : -1;
}

static void parse(int argc, char** argv, struct options* o) {
    memset(o, 0, sizeof *o);
    o->v2_fd = -1;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--net")) {
            o->net = 1;
        } else if (!strcmp(a, "--pid")) {
            o->pid = 1;
        } else if (v && !strcmp(a, "--report-fd")) {
            ++i; /* read by main */
        } else if (v && !strcmp(a, "--root")) {
            o->root = argv[++i];
        } else if (v && !strcmp(a, "--hostname")) {
            o->hostname = argv[++i];
        } else if (v && !strcmp(a, "--domainname")) {
            o->domainname = argv[++i];
        } else if (v && !strcmp(a, "--uid-map")) {
            o->uid_map = argv[++i];
        } else if (v && !strcmp(a, "--gid-map")) {
            o->gid_map = argv[++i];
        } else if (v && !strcmp(a, "--cgroup-v2-fd")) {
            if ((o->v2_fd = parse_fd(argv[++i])) < 0) fail(report_fd, 0, "--cgroup-v2-fd %s: not an fd number", v);
        } else if (v && !strcmp(a, "--cgroup-v1-fd")) {
            if (o->n_v1 == MAX_V1) fail(report_fd, 0, "more than %d --cgroup-v1-fd", MAX_V1);
            if ((o->v1_fds[o->n_v1++] = parse_fd(argv[++i])) < 0)
                fail(report_fd, 0, "--cgroup-v1-fd %s: not an fd number", v);
        } else {
            fail(report_fd, 0, "unknown argument %s", a);
        }
    }
    if (!o->root) fail(report_fd, 0, "--root is required");
    if (!o->uid_map != !o->gid_map) fail(report_fd, 0, "--uid-map and --gid-map go together");
}

static void loopback_up(int fd) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) fail(fd, errno, "socket for lo");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail(fd, errno, "SIOCGIFFLAGS lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail(fd, errno, "SIOCSIFFLAGS lo");
    close(s);
}

static void empty_root(int fd, const char* root) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail(fd, errno, "making / private");
    if (mount("tmpfs", root, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1,mode=0555") < 0)
        fail(fd, errno, "mounting an empty tmpfs on %s", root);
    if (chdir(root) < 0) fail(fd, errno, "chdir %s", root);
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        if (umount2(".", MNT_DETACH) < 0) fail(fd, errno, "detaching the old root");
    } else if (chroot(".") < 0) {
        /* pivot_root cannot leave an initramfs root; chroot is confinement enough for a
         * process without CAP_SYS_CHROOT. */
        fail(fd, errno, "pivot_root and chroot into %s", root);
    }
    if (chdir("/") < 0) fail(fd, errno, "chdir /");
}

static void drop_privileges(int fd) {
    for (int cap = 0; cap <= 63; ++cap)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) fail(fd, errno, "dropping capability %d", cap);
    if (setgroups(0, NULL) < 0) fail(fd, errno, "setgroups");
    if (setresgid(NOBODY, NOBODY, NOBODY) < 0) fail(fd, errno, "setresgid");
    if (setresuid(NOBODY, NOBODY, NOBODY) < 0) fail(fd, errno, "setresuid");
    /* Changing uid from 0 cleared the permitted, effective and ambient sets; clear the
     * inheritable one too. */
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &h, d) < 0) fail(fd, errno, "capset");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(fd, errno, "no_new_privs");
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail(fd, errno, "dumpable");
}

static void holder(const struct options* o, int sync_fd, int maps_fd) {
    if (maps_fd >= 0) {
        /* The launcher writes the maps and joins this process to the v1 cgroups (from here its
         * uid is no one's on the host), then a byte: until then this process is nobody here. */
        char c;
        if (read(maps_fd, &c, 1) != 1) fail(sync_fd, 0, "the user namespace's maps were not written");
        close(maps_fd);
    }
    for (int i = 0; i < o->n_v1; ++i) {
        if (maps_fd < 0 && write(o->v1_fds[i], "0", 1) != 1)
            fail(sync_fd, errno, "joining a v1 cgroup (fd %d)", o->v1_fds[i]);
        close(o->v1_fds[i]);
    }
    if (o->v2_fd >= 0) close(o->v2_fd);
    close(report_fd);
    if (o->hostname && sethostname(o->hostname, strlen(o->hostname)) < 0) fail(sync_fd, errno, "sethostname %s", o->hostname);
    if (o->domainname && setdomainname(o->domainname, strlen(o->domainname)) < 0)
        fail(sync_fd, errno, "setdomainname %s", o->domainname);
    if (o->net) loopback_up(sync_fd);
    empty_root(sync_fd, o->root);
    drop_privileges(sync_fd);
    /* After the uid change, which clears it. A launcher that died before this point leaves the
     * write below failing with EPIPE, and the holder with it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail(sync_fd, errno, "PR_SET_PDEATHSIG");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    if (write(sync_fd, "ok", 2) != 2) _exit(1);
    close(sync_fd);
    for (;;) pause();
}

int main(int argc, char** argv) {
    for (int i = 1; i + 1 < argc; ++i)
        if (!strcmp(argv[i], "--report-fd")) report_fd = parse_fd(argv[i + 1]);
    if (report_fd < 0 || fcntl(report_fd, F_GETFD) < 0) {
        fprintf(stderr, "kiln-pause: --report-fd must name an open fd; kilnd starts this program, "
                        "see core/monitor/pause.c\n");
        return 2;
    }
    struct options o;
    parse(argc, argv, &o);

    int sync[2], maps[2] = {-1, -1};
    if (pipe2(sync, O_CLOEXEC) < 0) fail(report_fd, errno, "pipe");
    if (o.uid_map && pipe2(maps, O_CLOEXEC) < 0) fail(report_fd, errno, "pipe");
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS;
    if (o.uid_map) args.flags |= CLONE_NEWUSER;
    if (o.net) args.flags |= CLONE_NEWNET;
    if (o.pid) args.flags |= CLONE_NEWPID;
    if (o.v2_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)o.v2_fd;
    }
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) fail(report_fd, errno, "clone3 (flags 0x%llx)", (unsigned long long)args.flags);
    if (pid == 0) {
        close(sync[0]);
        if (maps[1] >= 0) close(maps[1]);
        holder(&o, sync[1], maps[0]);
    }
    close(sync[1]);
    if (o.uid_map) {
        close(maps[0]);
        const char* files[] = {"uid_map", "gid_map"};
        const char* values[] = {o.uid_map, o.gid_map};
        for (int i = 0; i < 2; ++i) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%ld/%s", pid, files[i]);
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            size_t len = strlen(values[i]);
            if (fd < 0 || write(fd, values[i], len) != (ssize_t)len) {
                int err = errno;
                kill((pid_t)pid, SIGKILL);
                waitpid((pid_t)pid, NULL, 0);
                fail(report_fd, err, "writing %s \"%s\"", files[i], values[i]);
            }
            close(fd);
        }
        char pid_text[32];
        int len = snprintf(pid_text, sizeof pid_text, "%ld", pid);
        for (int i = 0; i < o.n_v1; ++i)
            if (write(o.v1_fds[i], pid_text, (size_t)len) != len) {
                int err = errno;
                kill((pid_t)pid, SIGKILL);
                waitpid((pid_t)pid, NULL, 0);
                fail(report_fd, err, "joining a v1 cgroup (fd %d)", o.v1_fds[i]);
            }
        if (write(maps[1], "m", 1) != 1) fail(report_fd, errno, "signalling the holder");
        close(maps[1]);
    }
    char buf[512];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(sync[0], buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
        if (n == sizeof buf - 1) break;
    }
    buf[n] = '\0';
    if (n == 2 && !memcmp(buf, "ok", 2)) {
        holder_pid = (pid_t)pid;
        for (int i = 0; i < o.n_v1; ++i) close(o.v1_fds[i]);
        if (o.v2_fd >= 0) close(o.v2_fd);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = kill_holder;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        dprintf(report_fd, "%ld\n", pid);
        close(report_fd);
        for (;;) {
            pid_t r = waitpid((pid_t)pid, NULL, 0);
            if (r == (pid_t)pid || (r < 0 && errno != EINTR)) return 0;
        }
    }
    kill((pid_t)pid, SIGKILL);
    waitpid((pid_t)pid, NULL, 0);
    if (n == 0) fail(report_fd, 0, "the sandbox process exited during its set-up");
    ssize_t ignored = write(report_fd, buf, n);
    (void)ignored;
    return 1;
}
