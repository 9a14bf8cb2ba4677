// A JSON value: what job configurations, job outputs and run records hold.
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
