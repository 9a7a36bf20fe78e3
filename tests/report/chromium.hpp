#pragma once
// Opens a page in Debian's headless Chromium and returns the DOM after the page's scripts ran
// (virtual time), and Chromium's stderr (where --enable-logging=stderr puts console messages).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ctb::report_test {

inline const char* kChromium = "/usr/bin/chromium";

struct BrowserResult {
  bool ran = false;  // exited 0 within the deadline
  std::string dom;
  std::string log;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// `page` must be a file path; `scratch` a fresh directory (profile, outputs).
inline BrowserResult dump_dom(const std::filesystem::path& page,
                              const std::filesystem::path& scratch) {
  const std::filesystem::path profile = scratch / "profile";
  std::filesystem::create_directories(profile);
  const std::string out = (scratch / "dom.html").string();
  const std::string err = (scratch / "chromium.log").string();
  std::vector<std::string> args = {kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--user-data-dir=" + profile.string(),
                                   "--enable-logging=stderr",
                                   "--v=0",
                                   "--virtual-time-budget=5000",
                                   "--dump-dom",
                                   "file://" + std::filesystem::absolute(page).string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  BrowserResult r;
  const pid_t pid = ::fork();
  if (pid < 0) return r;
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::setpgid(0, 0);  // its own group, so a timeout can end its helper processes too
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  r.ran = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  r.dom = slurp(out);
  r.log = slurp(err);
  return r;
}

/// The DOM with every <script>...</script> element's content dropped, so tags quoted inside
/// scripts are not mistaken for elements.
inline std::string without_scripts(const std::string& dom) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = dom.find("<script", pos);
    if (open == std::string::npos) break;
    const size_t body = dom.find('>', open);
    const size_t close = dom.find("</script>", body);
    if (body == std::string::npos || close == std::string::npos) break;
    out.append(dom, pos, body + 1 - pos);
    pos = close;
  }
  out.append(dom, pos, std::string::npos);
  return out;
}

/// Every start tag `<canvas ...>` of the DOM (scripts excluded).
inline std::vector<std::string> canvas_tags(const std::string& dom) {
  const std::string html = without_scripts(dom);
  std::vector<std::string> tags;
  for (size_t pos = html.find("<canvas"); pos != std::string::npos;
       pos = html.find("<canvas", pos + 1)) {
    tags.push_back(html.substr(pos, html.find('>', pos) - pos + 1));
  }
  return tags;
}

/// The value of attribute `name` in start tag `tag` ("" when absent).
inline std::string attribute(const std::string& tag, const std::string& name) {
  const std::string key = " " + name + "=\"";
  const size_t at = tag.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return tag.substr(start, tag.find('"', start) - start);
}

}  // namespace ctb::report_test
