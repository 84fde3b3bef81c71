#!/bin/sh
# memcheck.sh BINARY [ARGS...] — run one test program under valgrind: fails on any invalid
# access and on memory definitely or indirectly lost (libgomp's thread stacks show as
# "possibly lost" and are not ours).
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect --error-exitcode=9 "$@"
