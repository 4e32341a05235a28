# Warning and sanitizer flags shared by every Hedge target (interface library).
add_library(hedge_options INTERFACE)
target_compile_options(hedge_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wimplicit-fallthrough -Wformat=2 -Werror=return-type)
if(HEDGE_SANITIZE)
  target_compile_options(hedge_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                         -fno-sanitize-recover=undefined)
  target_link_options(hedge_options INTERFACE -fsanitize=address,undefined)
endif()
if(HEDGE_FUZZ)
  target_compile_options(hedge_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined)
  target_link_options(hedge_options INTERFACE -fsanitize=address,undefined)
endif()
