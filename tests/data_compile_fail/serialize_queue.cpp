// Must NOT compile: a Queue cannot be an item of another Queue (CPython:
// "Queue objects should only be shared between processes through inheritance").
#include "racegate/mp/queue.h"

int main() {
  racegate::mp::Queue<racegate::mp::Queue<int>> outer;
  outer.put(racegate::mp::Queue<int>());
}
