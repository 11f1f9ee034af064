/* Placeholder until this part of the addon is written. */
#include "hood.h"

void hood_register_process(napi_env env, napi_value exports) {}
