/**
 * Filters: the sysdig filter language over replayed events and, for the commands that analyze,
 * over L7 records. `compileFilter(text)` gives the event predicate replay() takes;
 * `splitFilter(text)` separates a filter's event part from its L7 part. FIELDS and L7_FIELDS
 * are the field tables `kcap fields` lists.
 */
export { compileFilter, compileNode, compileRecordFilter, type Predicate, type RecordPredicate } from './compile.js';
export { FIELDS, type EventField, type FieldDef, type FieldType, type FieldValue, type RecordField } from './fields.js';
export { L7_FIELDS, protocolName, type RecordSubject } from './l7-fields.js';
export { FIELD_BY_NAME, FilterError, parseFilter, type FilterNode } from './parse.js';
export { ioNeeds, type IoNeeds } from './pushdown.js';
export { eventFilter, splitFilter, type SplitFilter } from './split.js';
