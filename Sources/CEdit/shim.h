// BSD libedit with its readline-compatible interface (Debian: libedit-dev), used by the REPL.
#include <stdio.h>
#include <editline/readline.h>
