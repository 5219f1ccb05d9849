/* The test is that every generated translation unit, each including one kernels header and
 * nothing else, compiled. Running it only says so. */
#include <stdio.h>

int main(void)
{
    puts("every kernels header compiles on its own");
    return 0;
}
