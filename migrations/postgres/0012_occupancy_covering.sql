-- The turn's occupancy read and the phone's upcoming appointments are the two
-- statements of a turn that grow with the clinic. The occupancy index carries
-- every column the read returns, so the range is read from the index alone,
-- without a table lookup per appointment; patients' appointments are found
-- through their own index, not through the clinic's.
DROP INDEX appointments_clinic_blocked;
CREATE INDEX appointments_clinic_blocked ON appointments (clinic_id, blocked_from, blocked_until, practitioner_id, starts_at, ends_at, id, status) WHERE status = 'booked';
CREATE INDEX appointments_patient_booked ON appointments (patient_id, starts_at) WHERE status = 'booked';
