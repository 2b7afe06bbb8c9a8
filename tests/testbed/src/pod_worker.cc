// One pod on a testbed node: see pod_worker.h.
#include "testbed/pod_worker.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include "testbed/probe.h"
#include "timing/rfc3339.h"

namespace dso::testbed {
namespace {

using kube::Json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace fs = std::filesystem;

const kube::Resource kPods{"", "v1", "pods", true};

std::string now_rfc3339() {
  return timing::format_rfc3339_seconds(std::chrono::system_clock::now());
}

std::string str(const Json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
}

// Writes `content` to `path` through a temporary file renamed into place (readers never see half
// a file), with `mode`. Returns whether the content changed.
bool write_atomically(const fs::path& path, const std::string& content, int mode) {
  {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream old;
    old << in.rdbuf();
    if (in && old.str() == content) return false;
  }
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ::chmod(tmp.c_str(), static_cast<mode_t>(mode));
  fs::rename(tmp, path);
  return true;
}

struct Identity {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::vector<gid_t> groups;
};

// runAsUser/runAsGroup from the container's securityContext, else the pod's; fsGroup and
// supplementalGroups from the pod's.
Identity identity(const Json& pod_spec, const Json& container) {
  const Json pod_sc = pod_spec.value("securityContext", Json::object());
  const Json c_sc = container.value("securityContext", Json::object());
  auto pick = [&](const char* key) -> std::optional<std::int64_t> {
    if (c_sc.contains(key) && c_sc[key].is_number_integer()) return c_sc[key].get<std::int64_t>();
    if (pod_sc.contains(key) && pod_sc[key].is_number_integer())
      return pod_sc[key].get<std::int64_t>();
    return std::nullopt;
  };
  Identity id;
  if (const auto u = pick("runAsUser")) id.uid = static_cast<uid_t>(*u);
  const auto g = pick("runAsGroup");
  if (g)
    id.gid = static_cast<gid_t>(*g);
  else if (id.uid)
    id.gid = static_cast<gid_t>(*id.uid);
  if (pod_sc.contains("fsGroup") && pod_sc["fsGroup"].is_number_integer())
    id.groups.push_back(pod_sc["fsGroup"].get<gid_t>());
  for (const Json& s : pod_sc.value("supplementalGroups", Json::array()))
    if (s.is_number_integer()) id.groups.push_back(s.get<gid_t>());
  return id;
}

}  // namespace

std::optional<std::string> IpPool::take() {
  std::lock_guard lock(mu_);
  for (int host = 2; host < 255; ++host) {
    if (!used_[host]) {
      used_[host] = true;
      return prefix_ + std::to_string(host);
    }
  }
  return std::nullopt;
}

void IpPool::give_back(const std::string& ip) {
  if (!ip.starts_with(prefix_)) return;
  std::lock_guard lock(mu_);
  used_[std::stoi(ip.substr(prefix_.size()))] = false;
}

void ExitLog::write(const Json& entry) {
  std::lock_guard lock(mu_);
  std::ofstream out(file_, std::ios::app);
  out << entry.dump() << "\n";
}

struct PodWorker::Container {
  struct Probe {
    Json handler;  // null: none
    ProbeTiming timing;
    Clock::time_point next{};
    int successes = 0, failures = 0;
  };
  Json spec;
  std::string name;
  bool init = false;
  pid_t pid = -1;
  int restart_count = 0;
  bool started = false;  // startup probe passed (or none)
  bool ready = false;
  bool ever_ran = false;
  bool done = false;  // exited and will not run again
  std::chrono::system_clock::time_point started_at{};
  Clock::time_point started_mono{};
  Clock::time_point next_start{};
  milliseconds backoff{0};
  Json state = Json{{"waiting", {{"reason", "ContainerCreating"}}}};
  Json last_state = Json::object();
  Probe startup, readiness, liveness;
  std::string kill_reason;  // set when the worker kills it (a failed probe)
  std::string log;
};

PodWorker::PodWorker(const NodeContext& context, Json pod)
    : context_(context), pod_(std::move(pod)) {
  const Json& meta = pod_["metadata"];
  id_ = str(meta, "namespace") + "_" + str(meta, "name") + "_" + str(meta, "uid");
  dir_ = context_.state_dir / "pods" / id_;
  deleting_ = meta.contains("deletionTimestamp");
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void PodWorker::begin_stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

PodWorker::~PodWorker() {
  begin_stop();
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void PodWorker::update(Json pod) {
  {
    std::lock_guard lock(mu_);
    deleting_ = deleting_ || pod["metadata"].contains("deletionTimestamp");
    pod_ = std::move(pod);
  }
  cv_.notify_all();
}

void PodWorker::removed() {
  {
    std::lock_guard lock(mu_);
    removed_ = true;
  }
  cv_.notify_all();
}

bool PodWorker::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

Json PodWorker::latest() const {
  std::lock_guard lock(mu_);
  return pod_;
}

void PodWorker::event(const std::string& type, const std::string& reason,
                      const std::string& message) {
  if (context_.events) context_.events->record(latest(), type, reason, message);
}

void PodWorker::run(std::stop_token) {
  const bool ready = set_up();
  for (;;) {
    bool deleting, removed, stopping;
    {
      std::unique_lock lock(mu_);
      deleting = deleting_;
      removed = removed_;
      stopping = stopping_;
    }
    if (stopping || removed || deleting) {
      terminate(deleting && !stopping && !removed, stopping ? "AgentStopped" : "Killing");
      tear_down();
      if (deleting && !stopping && !removed) {
        // The kubelet's final delete: grace 0, only this incarnation of the name.
        kube::DeleteOptions now;
        now.grace_period_seconds = 0;
        now.precondition_uid = str(latest()["metadata"], "uid");
        const Json meta = latest()["metadata"];
        context_.client->remove(kPods, str(meta, "namespace"), str(meta, "name"), now);
      }
      std::lock_guard lock(mu_);
      finished_ = true;
      return;
    }
    if (ready) tick();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, milliseconds(100), [&] { return deleting_ || removed_ || stopping_; });
  }
}

bool PodWorker::set_up() {
  const Json pod = latest();
  const Json spec = pod["spec"];
  start_time_ = std::chrono::system_clock::now();
  std::error_code error;
  fs::create_directories(dir_ / "logs", error);
  for (const char* list : {"initContainers", "containers"}) {
    for (const Json& c : spec.value(list, Json::array())) {
      auto container = std::make_unique<Container>();
      container->spec = c;
      container->name = str(c, "name");
      container->init = std::string(list) == "initContainers";
      container->log = (dir_ / "logs" / (container->name + ".log")).string();
      if (!container->init) {
        for (const auto& [field, probe] : {std::pair{"startupProbe", &container->startup},
                                           std::pair{"readinessProbe", &container->readiness},
                                           std::pair{"livenessProbe", &container->liveness}}) {
          if (c.contains(field)) {
            probe->handler = c[field];
            probe->timing = ProbeTiming::of(c[field]);
          }
        }
      }
      containers_.push_back(std::move(container));
    }
  }
  const auto ip = context_.ips->take();
  if (!ip) {
    setup_error_ = "no free pod IP on this node";
  } else {
    pod_ip_ = *ip;
    std::vector<Mount> mounts;
    if (auto prepared = prepare_volumes(mounts); !prepared) {
      setup_error_ = prepared.error();
    } else {
      SandboxSpec sandbox;
      sandbox.hostname = str(pod["metadata"], "name");
      sandbox.pod_ip = pod_ip_;
      sandbox.network = context_.network;
      sandbox.root_dir = context_.roots_dir / str(pod["metadata"], "uid");
      sandbox.mounts = std::move(mounts);
      auto created = Sandbox::create(sandbox);
      if (created)
        sandbox_ = std::move(*created);
      else
        setup_error_ = created.error();
    }
  }
  if (!setup_error_.empty()) {
    for (auto& c : containers_)
      c->state = {{"waiting", {{"reason", "CreateContainerError"}, {"message", setup_error_}}}};
    event("Warning", "FailedCreatePodSandBox", setup_error_);
  }
  publish_status(true);
  return setup_error_.empty();
}

std::expected<void, std::string> PodWorker::prepare_volumes(std::vector<Mount>& mounts) {
  const Json pod = latest();
  const std::string ns = str(pod["metadata"], "namespace");
  std::map<std::string, fs::path> sources;
  std::map<std::string, bool> read_only_volume;
  for (const Json& v : pod["spec"].value("volumes", Json::array())) {
    const std::string name = str(v, "name");
    const fs::path own = dir_ / "volumes" / name;
    std::error_code error;
    if (v.contains("emptyDir")) {
      fs::create_directories(own, error);
      ::chmod(own.c_str(), 0777);
      sources[name] = own;
    } else if (v.contains("hostPath")) {
      const fs::path path = str(v["hostPath"], "path");
      if (str(v["hostPath"], "type") == "DirectoryOrCreate") fs::create_directories(path, error);
      if (!fs::exists(path, error))
        return std::unexpected("hostPath " + path.string() + " missing");
      sources[name] = path;
    } else if (v.contains("persistentVolumeClaim")) {
      // A claim is a folder of the node's state: a local volume that outlives the pod.
      const fs::path path =
          context_.state_dir / "pvc" / ns / str(v["persistentVolumeClaim"], "claimName");
      fs::create_directories(path, error);
      sources[name] = path;
      read_only_volume[name] = v["persistentVolumeClaim"].value("readOnly", false);
    } else if (v.contains("secret") || v.contains("configMap")) {
      fs::create_directories(own, error);
      sources[name] = own;
      read_only_volume[name] = true;
    } else {
      return std::unexpected("volume " + name + ": this kind of volume is not supported");
    }
  }
  refresh_projected_volumes();
  for (const Json& v : pod["spec"].value("volumes", Json::array())) {
    if (!v.contains("secret") && !v.contains("configMap")) continue;
    if (fs::is_empty(sources[str(v, "name")]) &&
        !(v.contains("secret") ? v["secret"] : v["configMap"]).value("optional", false))
      return std::unexpected("volume " + str(v, "name") + ": its object or keys are missing");
  }
  std::set<std::string> targets;
  for (const char* list : {"initContainers", "containers"}) {
    for (const Json& c : pod["spec"].value(list, Json::array())) {
      for (const Json& m : c.value("volumeMounts", Json::array())) {
        const std::string volume = str(m, "name"), target = str(m, "mountPath");
        if (!sources.contains(volume))
          return std::unexpected("volumeMount " + volume + ": no such volume");
        if (!targets.insert(target).second) continue;  // one mount per path in the shared root
        fs::path source = sources[volume];
        if (!str(m, "subPath").empty()) {
          source /= str(m, "subPath");
          std::error_code error;
          if (!fs::exists(source, error)) fs::create_directories(source, error);
        }
        mounts.push_back({source, target, m.value("readOnly", false) || read_only_volume[volume]});
      }
    }
  }
  return {};
}

void PodWorker::refresh_projected_volumes() {
  next_volume_refresh_ = Clock::now() + seconds(10);
  const Json pod = latest();
  const std::string ns = str(pod["metadata"], "namespace");
  for (const Json& v : pod["spec"].value("volumes", Json::array())) {
    const bool secret = v.contains("secret");
    if (!secret && !v.contains("configMap")) continue;
    const Json& src = secret ? v["secret"] : v["configMap"];
    const std::string object = str(src, secret ? "secretName" : "name");
    const auto data =
        secret ? context_.objects->secret(ns, object) : context_.objects->config_map(ns, object);
    if (!data) continue;  // kept as it was: the kubelet retries
    const int mode = src.value("defaultMode", 0644);
    const fs::path dir = dir_ / "volumes" / str(v, "name");
    std::map<std::string, std::pair<std::string, int>> files;  // path -> content, mode
    if (src.contains("items")) {
      for (const Json& item : src["items"]) {
        const auto it = data->find(str(item, "key"));
        if (it != data->end()) files[str(item, "path")] = {it->second, item.value("mode", mode)};
      }
    } else {
      for (const auto& [key, value] : *data) files[key] = {value, mode};
    }
    for (const auto& [path, content] : files) {
      std::error_code error;
      fs::create_directories((dir / path).parent_path(), error);
      write_atomically(dir / path, content.first, content.second);
    }
  }
}

void PodWorker::tick() {
  reap();
  start_due_containers();
  probe_due();
  if (Clock::now() >= next_volume_refresh_) refresh_projected_volumes();
  publish_status();
}

void PodWorker::start_due_containers() {
  const Json pod = latest();
  const auto now = Clock::now();
  for (auto& c : containers_) {
    if (c->init && c->done) continue;
    if (c->init && c->pid > 0) return;  // init containers run one at a time, in order
    if (!c->init) {
      // App containers start once every init container has succeeded.
      for (auto& i : containers_)
        if (i->init && !i->done) return;
    }
    if (c->pid > 0 || c->done || now < c->next_start) continue;
    const auto image = context_.images.find(str(c->spec, "image"));
    if (!image) {
      c->state = {{"waiting",
                   {{"reason", "ErrImagePull"},
                    {"message",
                     "image " + str(c->spec, "image") + " is not in the testbed's image table"}}}};
      c->next_start = now + seconds(10);
      continue;
    }
    PodFacts facts = PodFacts::of(pod, pod_ip_, context_.network.gateway);
    auto env = container_env(c->spec, *image, facts, *context_.objects);
    if (!env) {
      c->state = {
          {"waiting", {{"reason", "CreateContainerConfigError"}, {"message", env.error()}}}};
      c->next_start = now + seconds(2);
      continue;
    }
    StringMap env_map(env->begin(), env->end());
    std::vector<std::string> command, args;
    for (const Json& w : c->spec.value("command", Json::array()))
      command.push_back(expand(w, env_map));
    for (const Json& w : c->spec.value("args", Json::array())) args.push_back(expand(w, env_map));
    ProcessSpec process;
    process.argv = container_argv(*image, command, args);
    process.env = *env;
    process.working_dir = str(c->spec, "workingDir");
    const Identity id = identity(pod["spec"], c->spec);
    process.uid = id.uid;
    process.gid = id.gid;
    process.supplementary_groups = id.groups;
    process.log = c->log;
    auto pid = sandbox_->spawn(process);
    if (!pid) {
      record_exit(*c, 128, "StartError: " + pid.error());
      continue;
    }
    c->pid = *pid;
    c->ever_ran = true;
    c->started_at = std::chrono::system_clock::now();
    c->started_mono = now;
    c->started = c->startup.handler.is_null();
    c->ready = false;
    c->startup.successes = c->startup.failures = 0;
    c->readiness.successes = c->readiness.failures = 0;
    c->liveness.successes = c->liveness.failures = 0;
    for (auto* p : {&c->startup, &c->readiness, &c->liveness})
      p->next = now + seconds(p->timing.initial_delay_seconds);
    c->state = {{"running", {{"startedAt", timing::format_rfc3339_seconds(c->started_at)}}}};
    event("Normal", "Started", "Started container " + c->name);
    if (c->init) return;
  }
}

void PodWorker::reap() {
  for (auto& c : containers_) {
    if (c->pid <= 0) continue;
    int status = 0;
    if (::waitpid(c->pid, &status, WNOHANG) != c->pid) continue;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    c->pid = -1;
    record_exit(*c, code, c->kill_reason);
  }
}

void PodWorker::record_exit(Container& c, int code, const std::string& why) {
  const auto finished = std::chrono::system_clock::now();
  Json terminated{{"exitCode", code},
                  {"reason", code == 0 ? "Completed" : "Error"},
                  {"startedAt", timing::format_rfc3339_seconds(c.started_at)},
                  {"finishedAt", timing::format_rfc3339_seconds(finished)}};
  if (code > 128) terminated["signal"] = code - 128;
  if (!why.empty()) terminated["message"] = why;
  c.started = c.ready = false;
  c.kill_reason.clear();
  const Json pod = latest();
  Json entry{{"time", timing::format_rfc3339(finished)},
             {"namespace", str(pod["metadata"], "namespace")},
             {"pod", str(pod["metadata"], "name")},
             {"uid", str(pod["metadata"], "uid")},
             {"container", c.name},
             {"exitCode", code},
             {"reason", why.empty() ? std::string(code == 0 ? "Completed" : "Error") : why}};
  if (deletion_seen_) {
    entry["secondsAfterDeletion"] =
        std::chrono::duration<double>(Clock::now() - *deletion_seen_).count();
    entry["graceSeconds"] = pod["metadata"].value(
        "deletionGracePeriodSeconds", pod["spec"].value("terminationGracePeriodSeconds", 30));
  }
  if (context_.exits) context_.exits->write(entry);

  const std::string policy = pod["spec"].value("restartPolicy", "Always");
  const bool restart =
      !deletion_seen_ && (c.init ? code != 0 && policy != "Never"
                                 : policy == "Always" || (policy == "OnFailure" && code != 0));
  c.last_state = {{"terminated", terminated}};
  if (!restart) {
    c.done = true;
    c.state = {{"terminated", terminated}};
    return;
  }
  ++c.restart_count;
  // The kubelet's backoff: 10 s doubling to 5 min, back to 10 s after 10 minutes of running.
  const bool ran_long = Clock::now() - c.started_mono >= std::chrono::minutes(10);
  c.backoff = c.backoff.count() == 0 || ran_long
                  ? context_.restart_backoff
                  : std::min(c.backoff * 2, context_.max_restart_backoff);
  c.next_start = Clock::now() + c.backoff;
  const Json meta = pod["metadata"];
  const std::string message = "back-off " + std::to_string(c.backoff.count() / 1000) +
                              "s restarting failed container=" + c.name +
                              " pod=" + str(meta, "name") + "_" + str(meta, "namespace") + "(" +
                              str(meta, "uid") + ")";
  c.state = {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", message}}}};
  event("Warning", "BackOff", message);
}

void PodWorker::probe_due() {
  const auto now = Clock::now();
  const Json pod = latest();
  for (auto& c : containers_) {
    if (c->pid <= 0 || c->init) continue;
    ProcessSpec exec;
    exec.log = c->log;
    const Identity id = identity(pod["spec"], c->spec);
    exec.uid = id.uid;
    exec.gid = id.gid;
    auto run = [&](Container::Probe& p) -> std::optional<ProbeResult> {
      if (p.handler.is_null() || now < p.next) return std::nullopt;
      p.next = now + seconds(p.timing.period_seconds);
      auto result = run_handler(p.handler, c->spec, pod_ip_, *sandbox_, exec,
                                seconds(p.timing.timeout_seconds));
      if (result.success) {
        ++p.successes;
        p.failures = 0;
      } else {
        ++p.failures;
        p.successes = 0;
      }
      return result;
    };
    if (!c->started) {
      const auto r = run(c->startup);
      if (r && r->success) c->started = true;
      if (r && !r->success && c->startup.failures >= c->startup.timing.failure_threshold) {
        event("Warning", "Unhealthy", "Startup probe failed: " + r->message);
        kill_container(*c, seconds(pod["spec"].value("terminationGracePeriodSeconds", 30)),
                       "Unhealthy: startup probe failed: " + r->message);
      }
      continue;
    }
    if (c->readiness.handler.is_null()) {
      c->ready = true;
    } else if (const auto r = run(c->readiness)) {
      if (r->success && c->readiness.successes >= c->readiness.timing.success_threshold)
        c->ready = true;
      if (!r->success && c->readiness.failures >= c->readiness.timing.failure_threshold)
        c->ready = false;
    }
    if (const auto r = run(c->liveness);
        r && !r->success && c->liveness.failures >= c->liveness.timing.failure_threshold) {
      event("Warning", "Unhealthy", "Liveness probe failed: " + r->message);
      kill_container(*c, seconds(pod["spec"].value("terminationGracePeriodSeconds", 30)),
                     "Unhealthy: liveness probe failed: " + r->message);
    }
  }
}

void PodWorker::kill_container(Container& c, milliseconds grace, const std::string& reason) {
  if (c.pid <= 0) return;
  ::kill(-c.pid, SIGTERM);
  auto status = wait_for_exit(c.pid, grace);
  if (!status) {
    ::kill(-c.pid, SIGKILL);
    status = wait_for_exit(c.pid, seconds(10));
  }
  c.pid = -1;
  record_exit(c, status.value_or(128 + SIGKILL), reason);
}

void PodWorker::terminate(bool graceful, const std::string& reason) {
  const Json pod = latest();
  deletion_seen_ = Clock::now();
  const auto grace = seconds(pod["metadata"].value(
      "deletionGracePeriodSeconds", pod["spec"].value("terminationGracePeriodSeconds", 30)));
  std::vector<std::future<void>> stopping;
  for (auto& c : containers_) {
    if (c->pid <= 0) continue;
    c->ready = false;
    Container* container = c.get();
    stopping.push_back(std::async(std::launch::async, [this, container, grace, graceful, pod,
                                                       reason] {
      const auto t0 = Clock::now();
      const Json hook = container->spec.value("lifecycle", Json::object()).value("preStop", Json());
      if (graceful && !hook.is_null() && grace.count() > 0) {
        ProcessSpec exec;
        exec.log = container->log;
        const Identity id = identity(pod["spec"], container->spec);
        exec.uid = id.uid;
        exec.gid = id.gid;
        const auto r = run_handler(hook, container->spec, pod_ip_, *sandbox_, exec, grace);
        if (!r.success) event("Warning", "FailedPreStopHook", r.message);
      }
      // What is left of the grace period, but always the kubelet's minimum of 2 s.
      auto left = graceful ? std::chrono::duration_cast<milliseconds>(grace - (Clock::now() - t0))
                           : milliseconds(2000);
      left = std::max(left, milliseconds(2000));
      kill_container(*container, left, reason);
    }));
    if (graceful) event("Normal", "Killing", "Stopping container " + c->name);
  }
  for (auto& s : stopping) s.wait();
  if (graceful) publish_status(true);
}

void PodWorker::tear_down() {
  sandbox_.reset();
  if (!pod_ip_.empty()) context_.ips->give_back(pod_ip_);
  std::error_code error;
  fs::remove_all(dir_ / "volumes", error);
}

Json PodWorker::build_status() const {
  const Json pod = latest();
  Json statuses = Json::array(), init_statuses = Json::array();
  bool all_ready = true, all_ran = true, any_init_pending = false;
  bool all_done = true, all_succeeded = true;
  for (const auto& c : containers_) {
    Json s{{"name", c->name},
           {"image", str(c->spec, "image")},
           {"imageID", "testbed://" + str(c->spec, "image")},
           {"ready", c->ready},
           {"started", c->pid > 0 && c->started},
           {"restartCount", c->restart_count},
           {"state", c->state},
           {"lastState", c->last_state}};
    if (c->pid > 0) s["containerID"] = "testbed://" + std::to_string(c->pid);
    if (c->init) {
      any_init_pending |= !c->done;
      init_statuses.push_back(s);
      continue;
    }
    all_ready &= c->ready;
    all_ran &= c->ever_ran;
    all_done &= c->done;
    all_succeeded &= c->done && c->state.contains("terminated") &&
                     c->state["terminated"].value("exitCode", 1) == 0;
    statuses.push_back(s);
  }
  const bool ready = all_ready && setup_error_.empty() && !deletion_seen_;
  const std::string phase = all_done && !statuses.empty() ? (all_succeeded ? "Succeeded" : "Failed")
                            : all_ran                     ? "Running"
                                                          : "Pending";
  Json conditions = Json::array();
  auto condition = [&](const char* type, bool status) {
    conditions.push_back({{"type", type}, {"status", status ? "True" : "False"}});
  };
  condition("Initialized", !any_init_pending);
  condition("Ready", ready);
  condition("ContainersReady", ready);
  condition("PodScheduled", true);
  Json status{{"phase", phase},
              {"conditions", conditions},
              {"hostIP", context_.network.gateway},
              {"containerStatuses", statuses}};
  if (!init_statuses.empty()) status["initContainerStatuses"] = init_statuses;
  if (!pod_ip_.empty() && setup_error_.empty()) {
    status["podIP"] = pod_ip_;
    status["podIPs"] = Json::array({{{"ip", pod_ip_}}});
  }
  if (start_time_) status["startTime"] = timing::format_rfc3339_seconds(*start_time_);
  return status;
}

void PodWorker::publish_status(bool force) {
  Json status = build_status();
  if (!force && status == last_status_) return;
  // lastTransitionTime moves only when a condition's status does.
  Json previous = last_status_.is_object() ? last_status_ : Json::object();
  for (Json& c : status["conditions"]) {
    const std::string key = c["type"].get<std::string>() + "=" + c["status"].get<std::string>();
    if (!transition_times_.contains(key)) {
      // A new status for this type: forget the other value's time.
      for (const char* v : {"=True", "=False"})
        transition_times_.erase(c["type"].get<std::string>() + v);
      transition_times_[key] = now_rfc3339();
    }
    c["lastTransitionTime"] = transition_times_[key];
  }
  const Json meta = latest()["metadata"];
  const auto patched =
      context_.client->patch(kPods, str(meta, "namespace"), str(meta, "name"),
                             kube::PatchType::kMerge, Json{{"status", status}}, {}, "status");
  if (patched || patched.error().is_not_found()) last_status_ = build_status();
}

}  // namespace dso::testbed
