# Turns a text file into a C++ header holding it as a raw string literal.
# Usage: cmake -DIN=file -DOUT=header -DNAME=symbol -P embed.cmake
file(READ ${IN} content)
file(WRITE ${OUT} "// generated from ${IN}; do not edit\n#pragma once\nstatic constexpr const char ${NAME}[] = R\"hedge_embed(${content})hedge_embed\";\n")
