// A race in a forked child and another in its parent: two processes, two logs.
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

#include "race_common.h"

int g_parent = 0;
int g_child = 0;

void parent_a() { g_parent = 1; }
void parent_b() { g_parent = 2; }  // gate-test: fork_race.parent
void child_a() { g_child = 1; }
void child_b() { g_child = 2; }  // gate-test: fork_race.child

int main() {
  std::fflush(stdout);
  pid_t pid = fork();  // single-threaded here: safe under TSan
  if (pid < 0) return 2;
  if (pid == 0) {
    gate_test::overlap(child_a, child_b);
    _exit(0);
  }
  gate_test::overlap(parent_a, parent_b);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}
