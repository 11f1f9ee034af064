/* Placeholder until the executor is written. */
int main(void) { return 1; }
