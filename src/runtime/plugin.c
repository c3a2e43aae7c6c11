/* kiln_load_plugin: dlopen a library of custom operators and let it
 * register them through a table of entry points, so the plugin needs no
 * link-time dependency on libkiln (hosts may link kiln statically). */
#include "runtime/runtime.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

static const kiln_plugin_api plugin_api = {
    .struct_size = sizeof(kiln_plugin_api),
    .api_version = KILN_API_VERSION,
    .register_op = kiln_register_op,
    .set_error = kiln_set_error,
    .op_node_name = kiln_op_node_name,
    .op_node_attr_int = kiln_op_node_attr_int,
    .op_node_attr_float = kiln_op_node_attr_float,
    .op_node_attr_string = kiln_op_node_attr_string,
    .tensor_dtype = kiln_tensor_dtype,
    .tensor_rank = kiln_tensor_rank,
    .tensor_dims = kiln_tensor_dims,
    .tensor_element_count = kiln_tensor_element_count,
    .tensor_data = kiln_tensor_data,
    .tensor_const_data = kiln_tensor_const_data,
};

/* Libraries whose init ran; a second load of one is a no-op. Plugins are
 * never unloaded: registered ops point into them. */
#define KN_MAX_PLUGINS 64
static pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;
static void *plugins[KN_MAX_PLUGINS];
static int n_plugins;

static bool already_loaded(void *handle)
{
    for (int i = 0; i < n_plugins; i++)
        if (plugins[i] == handle)
            return true;
    return false;
}

static kiln_status init_plugin(const char *path, void *handle)
{
    if (n_plugins == KN_MAX_PLUGINS)
        return kn_error(KILN_ERROR_LIMIT, "plugin '%s': at most %d plugins can be loaded", path, KN_MAX_PLUGINS);
    /* POSIX allows converting dlsym's object pointer to a function pointer. */
    void *sym = dlsym(handle, KILN_PLUGIN_INIT_V1);
    if (!sym)
        return kn_error(KILN_ERROR_UNSUPPORTED, "plugin '%s' does not export %s", path, KILN_PLUGIN_INIT_V1);
    kiln_plugin_init_v1_fn init;
    memcpy(&init, &sym, sizeof init);
    kn_error_clear();
    kiln_status s = init(&plugin_api);
    if (s != KILN_OK) {
        if (!kn_error_message()[0])
            kn_error(s, "initialization failed with status %d", (int)s);
        return kn_error_prefix(s, "plugin '%s': %s", path, KILN_PLUGIN_INIT_V1);
    }
    plugins[n_plugins++] = handle;
    kn_log(KILN_LOG_INFO, "plugin '%s' loaded", path);
    return KILN_OK;
}

KILN_API kiln_status kiln_load_plugin(const char *path)
{
    if (!path)
        return kn_error(KILN_ERROR_ARGUMENT, "kiln_load_plugin: path is NULL");
    pthread_mutex_lock(&plugin_lock);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    kiln_status s = KILN_OK;
    if (!handle) {
        const char *why = dlerror();
        s = kn_error(KILN_ERROR_IO, "plugin '%s': %s", path, why ? why : "dlopen failed");
    } else if (already_loaded(handle)) {
        dlclose(handle); /* drop the extra reference of this dlopen */
    } else {
        s = init_plugin(path, handle);
        /* A library that failed is closed only if it registered nothing
         * that could point into it: we cannot tell, so keep it loaded. */
    }
    pthread_mutex_unlock(&plugin_lock);
    if (s != KILN_OK)
        kn_log(KILN_LOG_ERROR, "%s", kn_error_message());
    return s;
}
