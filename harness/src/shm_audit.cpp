// Shared-memory audit for case binaries. A case binary's own shm_open wraps
// the C library's: every segment a unit creates is appended to
// $RACEGATE_UNIT_DIR/shm-created, so that the runner can find (and remove) the
// segments a unit leaves in /dev/shm and fail it. Outside the runner
// (RACEGATE_UNIT_DIR unset) it only forwards.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

extern "C" int shm_open(const char* name, int oflag, mode_t mode) {
  using Fn = int (*)(const char*, int, mode_t);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "shm_open"));
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  int fd = real(name, oflag, mode);
  if (fd >= 0 && (oflag & O_CREAT)) {
    int saved = errno;
    if (const char* dir = std::getenv("RACEGATE_UNIT_DIR")) {
      std::string path = std::string(dir) + "/shm-created";
      int log = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log >= 0) {
        std::string line = std::string(name) + "\n";
        (void)!::write(log, line.data(), line.size());  // one write: atomic with O_APPEND
        ::close(log);
      }
    }
    errno = saved;
  }
  return fd;
}
