/**
 * Filters: the sysdig filter language over replayed events. `compileFilter(text)` gives the
 * predicate replay() takes; FIELDS is the field table `kcap fields` lists.
 */
export { compileFilter, compileNode, type Predicate } from './compile.js';
export { FIELDS, FIELD_BY_NAME, type FieldDef, type FieldType, type FieldValue } from './fields.js';
export { FilterError, parseFilter, type FilterNode } from './parse.js';
export { ioNeeds, type IoNeeds } from './pushdown.js';
