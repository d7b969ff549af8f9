/*
 * tests/unit/test_bandwidth.c - the probes `strixcore bench` measures
 * against: host read bandwidth, a device's read bandwidth and a device's
 * per-node latency. Speeds are not asserted (machines differ); what is
 * checked is that each probe runs, fills its result sanely and rejects bad
 * arguments.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "internal.h"
#include "strixcore/bandwidth.h"

static sc_registry_t *open_registry(sc_device_t **cpu) {
    sc_registry_t *reg = NULL;
    sc_registry_opts o = {.struct_size = sizeof o, .no_env = true, .no_default_paths = true};
    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    *cpu = sc_registry_find_device(reg, "cpu");
    assert_non_null(*cpu);
    return reg;
}

static void test_host_read(void **state) {
    (void)state;
    sc_bw_probe p;
    assert_int_equal(sc_mem_read_bandwidth((size_t)16 << 20, 2, 2, &p), SC_OK);
    assert_true(p.gbps > 0 && isfinite(p.gbps));
    assert_true(p.mean_gbps > 0 && p.mean_gbps <= p.gbps * 1.0001);
    assert_int_equal(p.runs, 2);
    assert_true(p.bytes >= ((size_t)16 << 20) - 4096);
}

/* The CPU device's read probe is the host's; its op latency is a real chain
 * of SCALE nodes through the scheduler. */
static void test_device_probes_on_cpu(void **state) {
    (void)state;
    sc_device_t *cpu = NULL;
    sc_registry_t *reg = open_registry(&cpu);
    sc_bw_probe p;
    assert_int_equal(sc_device_read_bandwidth(cpu, (size_t)8 << 20, 2, &p), SC_OK);
    assert_true(p.gbps > 0);
    double us = -1;
    assert_int_equal(sc_device_op_latency(cpu, 64, &us), SC_OK);
    assert_true(us > 0 && us < 1e5);
    assert_int_equal(sc_device_op_latency(cpu, 0, &us), SC_OK); /* default chain */
    assert_true(us > 0);
    /* bad arguments */
    assert_int_equal(sc_device_op_latency(NULL, 8, &us), SC_EINVAL);
    assert_int_equal(sc_device_op_latency(cpu, 8, NULL), SC_EINVAL);
    assert_int_equal(sc_device_op_latency(cpu, 1 << 20, &us), SC_EINVAL);
    assert_int_equal(sc_device_read_bandwidth(NULL, 0, 1, &p), SC_EINVAL);
    sc_registry_destroy(reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_read),
        cmocka_unit_test(test_device_probes_on_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
