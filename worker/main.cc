#include "worker/worker_main.h"

int main(int argc, char** argv) { return isobar::worker::WorkerMain(argc, argv, {}); }
