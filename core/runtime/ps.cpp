// kiln-runtime ps: the container's processes, as JSON pids or through ps(1) like runc.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/runtime/cli.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"

extern char** environ;

namespace kiln::runtime {

void add_ps(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("ps", "list the processes of a container");
    struct Args {
        std::string id;
        std::string format = "table";
        std::vector<std::string> ps_args;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("-f,--format", a->format, "table or json")->check(CLI::IsMember({"table", "json"}));
    cmd->add_option("id", a->id, "container id")->required();
    cmd->add_option("ps-args", a->ps_args, "options for ps (default -ef)");
    cmd->positionals_at_end();
    cmd->callback([&g, a] {
        auto pids = g.open().processes(a->id);
        if (a->format == "json") {
            printf("%s\n", nlohmann::json(pids).dump().c_str());
            return;
        }
        // Run ps and keep its header and the lines of our pids (runc's behaviour).
        std::vector<std::string> args = {"ps"};
        if (a->ps_args.empty()) args.push_back("-ef");
        args.insert(args.end(), a->ps_args.begin(), a->ps_args.end());
        std::vector<char*> argv;
        for (auto& s : args) argv.push_back(s.data());
        argv.push_back(nullptr);
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe2");
        Fd rd(p[0]), wr(p[1]);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
        pid_t pid;
        int rc = posix_spawnp(&pid, "ps", &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) throw_sys(rc, "spawn", "ps");
        wr.reset();
        std::string out = read_fd(rd.get());
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error(Errc::internal, "ps failed: " + out);
        std::istringstream lines(out);
        std::string line;
        std::getline(lines, line);
        size_t pid_col = 0;
        {
            std::istringstream h(line);
            std::string w;
            for (size_t i = 0; h >> w; ++i)
                if (w == "PID") pid_col = i;
        }
        printf("%s\n", line.c_str());
        std::set<pid_t> mine(pids.begin(), pids.end());
        while (std::getline(lines, line)) {
            std::istringstream f(line);
            std::string w;
            for (size_t i = 0; f >> w; ++i)
                if (i == pid_col) {
                    if (mine.count(static_cast<pid_t>(atoi(w.c_str())))) printf("%s\n", line.c_str());
                    break;
                }
        }
    });
}

}  // namespace kiln::runtime
