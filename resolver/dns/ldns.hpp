// dns/ldns: the one way to include ldns from C++. ldns/common.h defines
// `bool`, `true` and `false` as macros unless <stdbool.h> was seen first,
// which breaks any C++ header included after it (<optional>, <memory>).
#pragma once

// clang-format off: the order is the point of this file.
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers): sets __bool_true_false_are_defined
// clang-format on

#include <ldns/ldns.h>
