/* Placeholder entry point until the CLI lands. */
#include "kiln.h"

#include <stdio.h>

int main(void)
{
    printf("kiln %s\n", kiln_version());
    return 0;
}
