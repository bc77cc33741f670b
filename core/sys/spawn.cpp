// posix_spawn with kiln's usual settings.
#include "core/sys/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>

#include "core/sys/error.hpp"

extern char** environ;

namespace kiln {

pid_t spawn(const std::vector<std::string>& args, const SpawnOptions& o) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    for (int i = 0; i < 3; ++i) {
        if (o.stdio_fds[i] >= 0) {
            posix_spawn_file_actions_adddup2(&fa, o.stdio_fds[i], i);
        } else {
            const std::string& path = o.stdio_paths[i].empty() ? std::string("/dev/null") : o.stdio_paths[i];
            int flags = i == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND;
            posix_spawn_file_actions_addopen(&fa, i, path.c_str(), flags, 0640);
        }
    }
    for (auto [ours, theirs] : o.extra_fds) posix_spawn_file_actions_adddup2(&fa, ours, theirs);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (o.new_session) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attr, flags);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw_sys(rc, "posix_spawn", args[0]);
    return pid;
}

int wait_child(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

}  // namespace kiln
