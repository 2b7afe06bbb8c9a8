// A pod's sandbox: see sandbox.h.
#include "testbed/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace dso::testbed {
namespace {

namespace fs = std::filesystem;

// Host folders that the pod does not share: fresh ones, or special filesystems bound on their own.
bool private_top_level(const std::string& name) {
  return name == "tmp" || name == "run" || name == "proc" || name == "sys" || name == "dev" ||
         name == "lost+found";
}

// What the pause child needs, computed before fork.
struct RootPlan {
  std::vector<std::string> bind_dirs;                         // "/usr", ...
  std::vector<std::pair<std::string, std::string>> symlinks;  // "/lib" -> "usr/lib"
};

RootPlan plan_root() {
  RootPlan plan;
  for (const auto& entry : fs::directory_iterator("/")) {
    const std::string name = entry.path().filename();
    if (private_top_level(name)) continue;
    std::error_code error;
    if (entry.is_symlink(error)) {
      plan.symlinks.emplace_back("/" + name, fs::read_symlink(entry.path(), error).string());
    } else if (entry.is_directory(error)) {
      plan.bind_dirs.push_back("/" + name);
    }
  }
  return plan;
}

// mkdir -p that reports the first failure.
bool make_dirs(const std::string& path, mode_t mode) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error) return false;
  return ::chmod(path.c_str(), mode) == 0 || errno == EROFS;
}

// Runs in the pause child: returns an error text, or "" once the root is in place.
std::string build_root(const SandboxSpec& spec, const RootPlan& plan) {
  const std::string root = spec.root_dir;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return "make / private";
  if (::mount("tmpfs", root.c_str(), "tmpfs", 0, "mode=0755") != 0) return "tmpfs at " + root;
  for (const auto& dir : plan.bind_dirs) {
    const std::string at = root + dir;
    if (!make_dirs(at, 0755) ||
        ::mount(dir.c_str(), at.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return "bind " + dir;
  }
  for (const auto& [link, target] : plan.symlinks) {
    if (::symlink(target.c_str(), (root + link).c_str()) != 0) return "symlink " + link;
  }
  for (const char* special : {"/proc", "/sys", "/dev"}) {
    const std::string at = root + special;
    if (!make_dirs(at, 0755) ||
        ::mount(special, at.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return std::string("bind ") + special;
  }
  if (!make_dirs(root + "/tmp", 01777) || !make_dirs(root + "/run", 0755)) return "/tmp, /run";
  for (const Mount& m : spec.mounts) {
    const std::string at = root + m.target;
    std::error_code error;
    const bool file = fs::is_regular_file(m.source, error);
    if (file) {
      make_dirs(fs::path(at).parent_path(), 0755);
      const int fd = ::open(at.c_str(), O_CREAT | O_WRONLY, 0644);
      if (fd >= 0) ::close(fd);
    } else if (!make_dirs(at, 0755)) {
      return "mount point " + m.target;
    }
    if (::mount(m.source.c_str(), at.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return "mount " + m.source.string() + " at " + m.target + ": " + std::strerror(errno);
    if (m.read_only &&
        ::mount(nullptr, at.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
      return "read-only " + m.target;
  }
  const std::string old = root + "/.old-root";
  if (!make_dirs(old, 0700)) return "old root folder";
  if (::syscall(SYS_pivot_root, root.c_str(), old.c_str()) != 0)
    return std::string("pivot_root: ") + std::strerror(errno);
  if (::chdir("/") != 0 || ::umount2("/.old-root", MNT_DETACH) != 0) return "detach the old root";
  ::rmdir("/.old-root");
  return "";
}

// The path execve should try for argv[0]: itself when it has a '/', else each PATH entry.
std::vector<std::string> exec_candidates(const std::string& program, const EnvList& env) {
  if (program.find('/') != std::string::npos) return {program};
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& [k, v] : env) {
    if (k == "PATH") path = v;
  }
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto colon = path.find(':', start);
    const std::string dir = path.substr(start, colon - start);
    out.push_back((dir.empty() ? "." : dir) + "/" + program);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

void write_error(int fd, const std::string& text) {
  const auto n = ::write(fd, text.data(), text.size());
  (void)n;
}

}  // namespace

int run_host_command(const std::vector<std::string>& argv, std::string* output) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string out;
  std::array<char, 4096> buf{};
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buf.data(), buf.size())) > 0) out.append(buf.data(), n);
  ::close(pipe_fds[0]);
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return 128 + SIGKILL;  // not our child any more: reaped elsewhere
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::expected<void, std::string> ensure_bridge(const Network& network) {
  std::string out;
  if (run_host_command({"ip", "link", "show", network.bridge}, &out) == 0) return {};
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"ip", "link", "add", network.bridge, "type", "bridge"},
           {"ip", "addr", "add", network.gateway + "/" + std::to_string(network.prefix_length),
            "dev", network.bridge},
           {"ip", "link", "set", network.bridge, "up"}}) {
    // A concurrent agent may have created it in between: re-check before failing.
    if (run_host_command(argv, &out) != 0 &&
        run_host_command({"ip", "link", "show", network.bridge}) != 0)
      return std::unexpected("bridge " + network.bridge + ": " + out);
  }
  return {};
}

std::expected<std::unique_ptr<Sandbox>, std::string> Sandbox::create(const SandboxSpec& spec) {
  std::unique_ptr<Sandbox> sandbox(new Sandbox(spec));
  if (auto started = sandbox->start_pause(); !started) return std::unexpected(started.error());
  if (auto plugged = sandbox->plug_network(); !plugged) return std::unexpected(plugged.error());
  return sandbox;
}

std::expected<void, std::string> Sandbox::start_pause() {
  std::error_code error;
  fs::create_directories(spec_.root_dir, error);
  if (error)
    return std::unexpected("sandbox root " + spec_.root_dir.string() + ": " + error.message());
  const RootPlan plan = plan_root();
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return std::unexpected("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) return std::unexpected("fork failed");
  if (pid == 0) {
    // This process never execs, so O_CLOEXEC does not clean up: close every descriptor another
    // thread had open at the fork (a pipe of another sandbox's start, held here, would keep that
    // start waiting for an EOF that never comes).
    if (ready[1] > 3) ::close_range(3, static_cast<unsigned>(ready[1]) - 1, 0);
    ::close_range(static_cast<unsigned>(ready[1]) + 1, ~0U, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) != 0) {
      write_error(ready[1], std::string("unshare: ") + std::strerror(errno));
      ::_exit(1);
    }
    ::sethostname(spec_.hostname.data(), std::min<std::size_t>(spec_.hostname.size(), 63));
    if (const std::string failed = build_root(spec_, plan); !failed.empty()) {
      write_error(ready[1], failed);
      ::_exit(1);
    }
    ::close(ready[1]);  // EOF with no message: ready
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  pause_ = pid;
  std::string message;
  std::array<char, 512> buf{};
  ssize_t n;
  while ((n = ::read(ready[0], buf.data(), buf.size())) > 0) message.append(buf.data(), n);
  ::close(ready[0]);
  if (!message.empty()) return std::unexpected("sandbox for " + spec_.hostname + ": " + message);
  return {};
}

std::expected<void, std::string> Sandbox::plug_network() {
  static std::atomic<unsigned> counter{0};
  char name[16];
  std::snprintf(name, sizeof name, "tb%05x%05x", static_cast<unsigned>(::getpid()) & 0xfffff,
                counter++ & 0xfffff);
  host_veth_ = name;
  const std::string peer = host_veth_ + "p";
  const std::string ns = "--net=/proc/" + std::to_string(pause_) + "/ns/net";
  const std::string cidr = spec_.pod_ip + "/" + std::to_string(spec_.network.prefix_length);
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "link", "add", host_veth_, "type", "veth", "peer", "name", peer},
      {"ip", "link", "set", peer, "netns", std::to_string(pause_)},
      {"ip", "link", "set", host_veth_, "master", spec_.network.bridge},
      {"ip", "link", "set", host_veth_, "up"},
      {"nsenter", ns, "ip", "link", "set", "lo", "up"},
      {"nsenter", ns, "ip", "link", "set", peer, "name", "eth0"},
      {"nsenter", ns, "ip", "addr", "add", cidr, "dev", "eth0"},
      {"nsenter", ns, "ip", "link", "set", "eth0", "up"},
      {"nsenter", ns, "ip", "route", "add", "default", "via", spec_.network.gateway},
  };
  for (const auto& step : steps) {
    std::string out;
    if (run_host_command(step, &out) != 0) {
      std::string command;
      for (const auto& w : step) command += (command.empty() ? "" : " ") + w;
      return std::unexpected("network of " + spec_.hostname + ": `" + command + "`: " + out);
    }
  }
  return {};
}

Sandbox::~Sandbox() {
  if (pause_ > 0) {
    ::kill(pause_, SIGKILL);
    ::waitpid(pause_, nullptr, 0);
  }
  // The pod side of the veth went with the namespace, and with it the pair; a failed start may
  // have left the host side.
  if (!host_veth_.empty()) run_host_command({"ip", "link", "del", host_veth_});
  std::error_code error;
  fs::remove(spec_.root_dir, error);
}

std::expected<pid_t, std::string> Sandbox::spawn(const ProcessSpec& p) const {
  if (p.argv.empty()) return std::unexpected("no command to run");
  // Everything the child needs, prepared before fork.
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : p.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = p.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::vector<std::string> candidates = exec_candidates(p.argv[0], p.env);
  const std::string cwd = p.working_dir.empty() ? "/" : p.working_dir;
  std::array<int, 4> ns_fds{};
  const std::array<const char*, 4> kinds = {"ipc", "uts", "net", "mnt"};  // mnt last
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const std::string path = "/proc/" + std::to_string(pause_) + "/ns/" + kinds[i];
    ns_fds[i] = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fds[i] < 0) {
      for (std::size_t j = 0; j < i; ++j) ::close(ns_fds[j]);
      return std::unexpected("sandbox of " + spec_.hostname + " is gone (" + path + ")");
    }
  }
  const int log_fd = ::open(p.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int error_pipe[2];
  if (log_fd < 0 || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
    for (int fd : ns_fds) ::close(fd);
    if (log_fd >= 0) ::close(log_fd);
    return std::unexpected("log " + p.log.string() + ": " + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(error_pipe[0]);
    auto fail = [&](const char* what) {
      const std::string text = std::string(what) + ": " + std::strerror(errno);
      write_error(error_pipe[1], text);
      ::_exit(127);
    };
    ::setsid();
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    for (int fd : ns_fds) {
      if (::setns(fd, 0) != 0) fail("setns");
    }
    if (::chdir(cwd.c_str()) != 0) fail("working directory");
    if (p.gid) {
      if (::setgroups(p.supplementary_groups.size(), p.supplementary_groups.data()) != 0)
        fail("setgroups");
      if (::setgid(*p.gid) != 0) fail("setgid");
    }
    if (p.uid && ::setuid(*p.uid) != 0) fail("setuid");
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // after setuid, which clears it
    int last_errno = ENOENT;
    for (const auto& path : candidates) {
      ::execve(path.c_str(), argv.data(), envp.data());
      if (errno != ENOENT) last_errno = errno;
    }
    errno = last_errno;
    fail(("exec " + p.argv[0]).c_str());
  }
  ::close(error_pipe[1]);
  ::close(log_fd);
  for (int fd : ns_fds) ::close(fd);
  if (pid < 0) {
    ::close(error_pipe[0]);
    return std::unexpected("fork failed");
  }
  // The error pipe closes on a successful exec (O_CLOEXEC) or carries why it failed.
  std::string message;
  std::array<char, 512> buf{};
  ssize_t n;
  while ((n = ::read(error_pipe[0], buf.data(), buf.size())) > 0) message.append(buf.data(), n);
  ::close(error_pipe[0]);
  if (!message.empty()) {
    ::waitpid(pid, nullptr, 0);
    return std::unexpected(message);
  }
  return pid;
}

std::expected<int, std::string> Sandbox::run(const ProcessSpec& process,
                                             std::chrono::milliseconds timeout) const {
  auto pid = spawn(process);
  if (!pid) return std::unexpected(pid.error());
  if (const auto status = wait_for_exit(*pid, timeout)) return *status;
  ::kill(-*pid, SIGKILL);
  ::waitpid(*pid, nullptr, 0);
  return std::unexpected("timed out after " + std::to_string(timeout.count()) + " ms");
}

}  // namespace dso::testbed
