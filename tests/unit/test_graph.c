/* Graph IR: name lookup, topological order, cycle and dangling detection. */
#include "harness.h"

static int add_value(kn_graph *g, const char *name)
{
    int v;
    assert_int_equal(kn_graph_value(g, name, &v), KILN_OK);
    return v;
}

static void test_lookup_many_names(void **state)
{
    (void)state;
    kn_graph *g;
    assert_int_equal(kn_graph_new(&g), KILN_OK);
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "v%d", i);
        assert_int_equal(add_value(g, name), i);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "v%d", i);
        assert_int_equal(kn_graph_find(g, name), i);
    }
    assert_int_equal(kn_graph_find(g, "missing"), -1);
    kn_graph_free(g);
}

/* Nodes added in reverse order come out producer-first. */
static void test_topo_order(void **state)
{
    (void)state;
    kn_graph *g;
    assert_int_equal(kn_graph_new(&g), KILN_OK);
    int x = add_value(g, "x"), a = add_value(g, "a"), b = add_value(g, "b");
    g->values[x].is_graph_input = true;
    int n;
    assert_int_equal(kn_graph_add_node(g, "second", "Relu", "", 1, &a, 1, &b, &n), KILN_OK);
    assert_int_equal(kn_graph_add_node(g, "first", "Relu", "", 1, &x, 1, &a, &n), KILN_OK);
    int order[2], count;
    assert_int_equal(kn_graph_topo_order(g, order, &count), KILN_OK);
    assert_int_equal(count, 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 0);
    kn_graph_free(g);
}

static void test_cycle_detected(void **state)
{
    (void)state;
    kn_graph *g;
    assert_int_equal(kn_graph_new(&g), KILN_OK);
    int a = add_value(g, "a"), b = add_value(g, "b");
    int n;
    assert_int_equal(kn_graph_add_node(g, "n1", "Relu", "", 1, &a, 1, &b, &n), KILN_OK);
    assert_int_equal(kn_graph_add_node(g, "n2", "Relu", "", 1, &b, 1, &a, &n), KILN_OK);
    int order[2], count;
    assert_int_equal(kn_graph_topo_order(g, order, &count), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "cycle"));
    kn_graph_free(g);
}

static void test_self_loop_detected(void **state)
{
    (void)state;
    kn_graph *g;
    assert_int_equal(kn_graph_new(&g), KILN_OK);
    int a = add_value(g, "a");
    int n;
    assert_int_equal(kn_graph_add_node(g, "self", "Relu", "", 1, &a, 1, &a, &n), KILN_OK);
    int order[1], count;
    assert_int_equal(kn_graph_topo_order(g, order, &count), KILN_ERROR_MODEL);
    kn_graph_free(g);
}

static void test_dangling_input(void **state)
{
    (void)state;
    kn_graph *g;
    assert_int_equal(kn_graph_new(&g), KILN_OK);
    int a = add_value(g, "nowhere"), b = add_value(g, "b");
    int n;
    assert_int_equal(kn_graph_add_node(g, "n1", "Relu", "", 1, &a, 1, &b, &n), KILN_OK);
    int order[1], count;
    assert_int_equal(kn_graph_topo_order(g, order, &count), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "nowhere"));
    kn_graph_free(g);
}

static void test_duplicate_producer(void **state)
{
    (void)state;
    kn_graph *g;
    assert_int_equal(kn_graph_new(&g), KILN_OK);
    int x = add_value(g, "x"), a = add_value(g, "a");
    g->values[x].is_graph_input = true;
    int n;
    assert_int_equal(kn_graph_add_node(g, "n1", "Relu", "", 1, &x, 1, &a, &n), KILN_OK);
    assert_int_equal(kn_graph_add_node(g, "n2", "Relu", "", 1, &x, 1, &a, &n), KILN_OK);
    int order[2], count;
    assert_int_equal(kn_graph_topo_order(g, order, &count), KILN_ERROR_MODEL);
    assert_non_null(strstr(kiln_last_error(), "two nodes"));
    kn_graph_free(g);
}

/* A 20000-node chain sorts without recursion. */
static void test_long_chain(void **state)
{
    (void)state;
    kn_graph *g;
    assert_int_equal(kn_graph_new(&g), KILN_OK);
    int prev = add_value(g, "x");
    g->values[prev].is_graph_input = true;
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "v%d", i);
        int v = add_value(g, name), n;
        assert_int_equal(kn_graph_add_node(g, NULL, "Relu", "", 1, &prev, 1, &v, &n), KILN_OK);
        prev = v;
    }
    g->outputs = kn_malloc(sizeof(int));
    g->outputs[0] = prev;
    g->n_outputs = 1;
    assert_int_equal(kn_graph_compact(g), KILN_OK);
    assert_int_equal(g->n_nodes, 20000);
    kn_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_many_names), cmocka_unit_test(test_topo_order),
        cmocka_unit_test(test_cycle_detected),    cmocka_unit_test(test_self_loop_detected),
        cmocka_unit_test(test_dangling_input),    cmocka_unit_test(test_duplicate_producer),
        cmocka_unit_test(test_long_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
