// Component tests: the real server on loopback with a scripted fake upstream.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
