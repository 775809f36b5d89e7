// Everything a C++ user of fastgru needs.
#pragma once

#include "fastgru/gru.h"
#include "fastgru/runtime.h"
