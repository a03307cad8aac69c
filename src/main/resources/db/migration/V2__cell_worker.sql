-- Which server instance ran a cell last (kvlab.experiments instance name), so shared work is visible.
alter table cell add column ran_by varchar(100);
