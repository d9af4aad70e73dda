// noop: does nothing and exits 0 (the cold-start benchmark's function, as in Faasm's noop.c).
int main(void) { return 0; }
