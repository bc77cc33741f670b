// kiln-runtime run: create, start, wait for the process and delete, exiting with its status.
#include <sys/prctl.h>
#include <unistd.h>

#include "core/runtime/cli.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/log.hpp"

namespace kiln::runtime {

void add_run(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("run", "create and start a container, and wait for it");
    struct Args {
        container::CreateOptions create;
        bool detach = false;
        bool keep = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("-b,--bundle", a->create.bundle, "the bundle directory (default: current directory)");
    cmd->add_option("--pid-file", a->create.pid_file, "write the container's init pid here");
    cmd->add_option("--console-socket", a->create.console_socket, "unix socket that receives the pty master");
    cmd->add_option("--preserve-fds", a->create.preserve_fds, "pass this many fds after stdio to the container")->check(CLI::Range(0, container::kMaxPreserveFds));
    cmd->add_flag("--no-pivot", a->create.no_pivot, "use MS_MOVE and chroot instead of pivot_root");
    cmd->add_flag("--no-new-keyring", a->create.no_new_keyring, "keep the caller's session keyring");
    cmd->add_flag("-d,--detach", a->detach, "return once the container has started");
    cmd->add_flag("--keep", a->keep, "do not delete the container after it exits");
    cmd->add_option("id", a->create.id, "container id")->required();
    cmd->positionals_at_end();
    cmd->callback([&g, a] {
        container::Runtime rt = g.open();
        container::CreateOptions opts = a->create;
        ConsolePair console;
        Fd ours, theirs;
        if (!a->detach && opts.console_socket.empty()) {
            // Without a console socket we hold the pty ourselves (used only with process.terminal).
            console = make_console_pair();
            ours.reset(console.ours);
            theirs.reset(console.theirs);
            opts.console_fd = theirs.get();
        }
        if (!a->detach) {
            block_forwarded_signals();
            ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        // init sent the pty master (if any) before it reported created: starting at once is safe.
        opts.start = true;
        auto created = rt.create(opts);
        theirs.reset();
        int code = 0;
        try {
            Fd master;
            if (created.terminal && ours) master.reset(receive_pty_master(ours.get()));
            if (a->detach) return;
            code = wait_foreground(created.pid, master.get());
        } catch (...) {
            try {
                rt.remove(opts.id, true);
            } catch (const Error& e) {
                log::warn(e.what());
            }
            throw;
        }
        // The process's status stands even if the cleanup after it fails: that is only reported.
        g.exit_code = code;
        if (a->keep) return;
        try {
            rt.remove(opts.id, false);
        } catch (const Error& e) {
            log::error("removing \"" + opts.id + "\" after it exited: " + e.what());
        }
    });
}

}  // namespace kiln::runtime
