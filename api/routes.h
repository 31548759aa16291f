/*
 * routes.h: the route tables (routes.c), read by the server to serve them
 * and by tests and tools that walk them.
 */
#ifndef FB_ROUTES_H
#define FB_ROUTES_H

#include "router.h"

/* The API's routes. */
extern const struct route routes[];
extern const int nroutes;

/* The metrics listener's routes. */
extern const struct route metrics_routes[];
extern const int nmetrics_routes;

#endif
