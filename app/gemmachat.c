/* placeholder main until the chat program lands */
#include <stdio.h>
int main(void) { fprintf(stderr, "gemmachat: not built yet\n"); return 1; }
