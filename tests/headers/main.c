/* The test is that every generated translation unit, each including one
 * public header and nothing else, compiled. Running it only says so. */
#include <stdio.h>

int main(void)
{
    puts("every public header compiles on its own");
    return 0;
}
