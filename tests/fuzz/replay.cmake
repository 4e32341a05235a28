# Fuzz corpus replay as ctest tests (label "unit"), included optionally by
# tests/CMakeLists.txt. Each fuzz_<name> replays tests/fuzz/corpus/<name>/
# plus any extra seed directories listed in HEDGE_FUZZ_SEEDS_<name> below.
# Seeds outside the repo (../shared/data) are used only when present.
set(HEDGE_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data)
set(HEDGE_FUZZ_SEEDS_lists
  ${HEDGE_SHARED_DATA}/dns-corpus/c-ares-fuzznames
  ${HEDGE_SHARED_DATA}/lists/pornhosts
  ${HEDGE_SHARED_DATA}/lists/hagezi/adblock
  ${HEDGE_SHARED_DATA}/lists/hagezi/dnsmasq
  ${HEDGE_SHARED_DATA}/lists/hagezi/unbound
  ${HEDGE_SHARED_DATA}/lists/hagezi/wildcard
  ${HEDGE_SHARED_DATA}/lists/blocklistproject/hosts
  ${HEDGE_SHARED_DATA}/lists/ut1/chat)

set(HEDGE_FUZZ_SEEDS_packet
  ${HEDGE_SHARED_DATA}/dns-corpus/c-ares-fuzzinput
  ${HEDGE_SHARED_DATA}/dns-corpus/deckard-raw)

if(NOT HEDGE_FUZZ)
  foreach(src ${HEDGE_FUZZ_SOURCES})
    get_filename_component(target ${src} NAME_WE)
    string(REGEX REPLACE "^fuzz_" "" short ${target})
    set(dirs "")
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${short})
      list(APPEND dirs ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${short})
    endif()
    foreach(d ${HEDGE_FUZZ_SEEDS_${short}})
      if(IS_DIRECTORY ${d})
        list(APPEND dirs ${d})
      endif()
    endforeach()
    if(dirs)
      add_test(NAME fuzz_replay_${short} COMMAND ${target} ${dirs})
      set_tests_properties(fuzz_replay_${short} PROPERTIES LABELS unit)
    endif()
  endforeach()
endif()
