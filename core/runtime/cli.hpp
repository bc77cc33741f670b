// kiln-runtime's command line: the global options and one registration function per verb
// (one file each), in runc's words so that existing callers work unchanged.
#pragma once

#include <sys/types.h>

#include <string>

#include <CLI/CLI.hpp>

#include "core/container/container.hpp"
#include "core/container/plan.hpp"  // kMaxPreserveFds

namespace kiln::runtime {

struct Globals {
    std::string root = "/run/kiln-runtime";
    std::string log;
    std::string log_format = "text";
    bool debug = false;
    bool systemd_cgroup = false;
    int exit_code = 0;  // set by run and exec, which exit with their process's status

    container::Runtime open() const;
};

void add_create(CLI::App& app, Globals& g);
void add_start(CLI::App& app, Globals& g);
void add_run(CLI::App& app, Globals& g);
void add_state(CLI::App& app, Globals& g);
void add_kill(CLI::App& app, Globals& g);
void add_delete(CLI::App& app, Globals& g);
void add_exec(CLI::App& app, Globals& g);
void add_list(CLI::App& app, Globals& g);
void add_ps(CLI::App& app, Globals& g);
void add_pause(CLI::App& app, Globals& g);
void add_update(CLI::App& app, Globals& g);
void add_features(CLI::App& app, Globals& g);
void add_spec(CLI::App& app, Globals& g);

// Blocks the signals wait_foreground forwards, before the process exists, so none is lost.
void block_forwarded_signals();
// Waits for `pid` (a child of this process) while forwarding signals to it and, with a pty
// master, copying between it and our stdio. Returns the exit code a shell would report.
int wait_foreground(pid_t pid, int pty_master);

// A socketpair whose one end is handed to the container as its console socket; the other end
// receives the pty master.
struct ConsolePair {
    int ours = -1;
    int theirs = -1;
};
ConsolePair make_console_pair();
int receive_pty_master(int ours);

}  // namespace kiln::runtime
