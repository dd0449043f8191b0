// main() of case binaries built with racegate_add_cases().
#include "racegate/harness/case.h"

int main(int argc, char** argv) { return racegate::harness::harness_case_main(argc, argv); }
